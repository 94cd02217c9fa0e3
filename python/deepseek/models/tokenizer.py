"""A BERT uncased WordPiece tokenizer read from a ``vocab.txt`` (clean text, lower-case,
strip accents, split on whitespace and punctuation, greedy longest-match WordPiece with
``##`` continuation pieces, ``[CLS] ... [SEP]``, ``[PAD]`` padding, ``[UNK]``)."""
import unicodedata

import deepseek as ds


def _is_whitespace(ch):
    return ch in " \t\n\r" or unicodedata.category(ch) == "Zs"


def _is_control(ch):
    return ch not in "\t\n\r" and unicodedata.category(ch).startswith("C")


def _is_punctuation(ch):
    cp = ord(ch)
    # All non-letter/number ASCII counts as punctuation ('$', '^', '`', ... too), as in BERT.
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(cp):
    return (
        0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
        or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
        or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F
    )


class BertTokenizer:
    """BERT uncased tokenizer (BasicTokenizer + WordPiece) from a ``vocab.txt``."""

    def __init__(self, vocab_file, max_length=256, max_chars_per_word=100):
        with open(vocab_file, encoding="utf-8") as f:
            self.vocab = [line.rstrip("\n") for line in f]
        self.ids = {tok: i for i, tok in enumerate(self.vocab)}
        self.max_length = max_length  # sentence-transformers' max_seq_length for this model
        self.max_chars_per_word = max_chars_per_word
        self.cls_id, self.sep_id = self.ids["[CLS]"], self.ids["[SEP]"]
        self.pad_id, self.unk_id = self.ids["[PAD]"], self.ids["[UNK]"]

    def basic_tokens(self, text):
        """Clean, lower-case, strip accents, split on whitespace and punctuation."""
        text = unicodedata.normalize("NFC", text)
        chars = []
        for ch in text:
            cp = ord(ch)
            if cp == 0 or cp == 0xFFFD or _is_control(ch):
                continue
            if _is_cjk(cp):  # every CJK ideograph is its own word
                chars.append(f" {ch} ")
            else:
                chars.append(" " if _is_whitespace(ch) else ch)
        out = []
        for word in "".join(chars).split():
            word = word.lower()
            word = "".join(c for c in unicodedata.normalize("NFD", word) if unicodedata.category(c) != "Mn")
            piece = ""
            for ch in word:
                if _is_punctuation(ch):
                    if piece:
                        out.append(piece)
                    out.append(ch)
                    piece = ""
                else:
                    piece += ch
            if piece:
                out.append(piece)
        return out

    def wordpiece(self, word):
        """Greedy longest-match-first split of one word; [UNK] if any part has no match."""
        if len(word) > self.max_chars_per_word:
            return ["[UNK]"]
        pieces, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                sub = word[start:end] if start == 0 else "##" + word[start:end]
                if sub in self.ids:
                    break
                end -= 1
            if end == start:
                return ["[UNK]"]
            pieces.append(sub)
            start = end
        return pieces

    def tokenize(self, text):
        return [p for w in self.basic_tokens(text) for p in self.wordpiece(w)]

    def encode(self, text):
        """[CLS] tokens [SEP] as vocabulary ids, truncated to ``max_length``."""
        ids = [self.ids.get(t, self.unk_id) for t in self.tokenize(text)]
        return [self.cls_id] + ids[: self.max_length - 2] + [self.sep_id]

    def batch(self, texts):
        """(input_ids, attention_mask), both int64 [batch, longest], padded with [PAD]/0."""
        enc = [self.encode(t) for t in texts]
        n = max(len(e) for e in enc)
        ids = [e + [self.pad_id] * (n - len(e)) for e in enc]
        mask = [[1] * len(e) + [0] * (n - len(e)) for e in enc]
        return ds.tensor(ids, dtype=ds.int64), ds.tensor(mask, dtype=ds.int64)
