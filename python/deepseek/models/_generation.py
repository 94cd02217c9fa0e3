"""Autoregressive generation shared by the decoders: greedy or sampled (temperature, top-k,
nucleus top-p) decoding with a KV cache."""
from __future__ import annotations


def _filter_logits(logits, top_k=None, top_p=None):
    """Sets to -inf every logit outside the top ``k`` and outside the smallest set whose
    probability mass reaches ``top_p`` (the most likely token always stays)."""
    import math

    from .. import _ops
    from ..nn import functional as F

    if top_k is not None and top_k > 0:
        k = min(int(top_k), logits.shape[-1])
        kth = _ops.topk(logits, k, dim=-1)[0][..., -1:]
        logits = _ops.masked_fill(logits, logits < kth, -math.inf)
    if top_p is not None and top_p < 1.0:
        sorted_logits, idx = _ops.sort(logits, dim=-1, descending=True)
        probs = F.softmax(sorted_logits, dim=-1)
        before = _ops.cumsum(probs, -1) - probs  # mass of the tokens ranked above each one
        drop_sorted = before >= top_p
        drop = _ops.scatter(drop_sorted, -1, idx, drop_sorted)
        logits = _ops.masked_fill(logits, drop, -math.inf)
    return logits


class GenerationMixin:
    """``generate`` for a decoder whose ``forward(input_ids, past_key_values=None,
    use_cache=False)`` returns ``(logits, past)``."""

    def generate(self, input_ids, max_new_tokens=20, temperature=1.0, top_k=None, top_p=None, do_sample=None,
                 use_cache=True, eos_token_id=None):
        """Continues ``input_ids`` [batch, seq] by ``max_new_tokens`` tokens and returns the
        whole sequence [batch, seq + new].

        ``temperature=0`` (or ``do_sample=False``) decodes greedily (argmax); otherwise the next
        token is sampled from softmax(logits / temperature) restricted to the ``top_k`` most
        likely tokens and the ``top_p`` nucleus. With ``use_cache`` the keys and values of the
        past positions are kept, so each step runs the model on one new token only; without it
        every step reruns the whole sequence (same result, quadratic cost). Stops early when
        every row produced ``eos_token_id``."""
        from .. import _ops, multinomial, no_grad
        from ..nn import functional as F

        if input_ids.ndim != 2:
            raise ValueError(f"generate: input_ids should be [batch, seq], got shape {tuple(input_ids.shape)}")
        if max_new_tokens < 0:
            raise ValueError(f"generate: max_new_tokens must be >= 0, got {max_new_tokens}")
        if temperature is not None and temperature < 0:
            raise ValueError(f"generate: temperature must be >= 0, got {temperature}")
        if top_p is not None and not 0.0 < top_p <= 1.0:
            raise ValueError(f"generate: top_p must be in (0, 1], got {top_p}")
        greedy = (do_sample is False) or not temperature
        was_training = self.training
        self.eval()
        out, past, done = input_ids, None, None
        try:
            with no_grad():
                for _ in range(max_new_tokens):
                    if use_cache:
                        step_in = out if past is None else out[:, -1:]
                        logits, past = self(step_in, past_key_values=past, use_cache=True)
                    else:
                        logits, _ = self(out)
                    logits = logits[:, -1, :]
                    if greedy:
                        nxt = _ops.argmax(logits, dim=-1, keepdim=True)
                    else:
                        logits = _filter_logits(logits / temperature, top_k, top_p)
                        nxt = multinomial(F.softmax(logits, dim=-1), 1)
                    nxt = nxt.to(out.dtype)
                    if eos_token_id is not None:
                        if done is not None:  # finished rows keep emitting eos
                            nxt = _ops.where(done, eos_token_id, nxt)
                        done = (nxt == eos_token_id) if done is None else (done | (nxt == eos_token_id))
                    out = _ops.cat([out, nxt], 1)
                    if done is not None and bool(done.all()):
                        break
        finally:
            self.train(was_training)
        return out
