"""An LSTM language model with the layout of the classic word-level language model example
(``encoder`` embedding, multi-layer ``rnn`` LSTM, ``decoder`` linear) and state-cached
generation."""
from __future__ import annotations

from ..nn import init
from ..nn.modules.layers import Dropout, Embedding, Linear
from ..nn.modules.module import Module
from ..nn.modules.rnn import LSTM
from ._generation import GenerationMixin
from ._registry import register_model, token_input


class LSTMLanguageModel(GenerationMixin, Module):
    """LSTMLanguageModel(ntoken, ninp=650, nhid=650, nlayers=2, dropout=0.5, tie_weights=False);
    ``forward(input_ids [batch, seq], past_key_values=None, use_cache=False)`` -> (logits,
    (h, c) or None): the recurrent state plays the part of the KV cache."""

    def __init__(self, ntoken=10000, ninp=650, nhid=650, nlayers=2, dropout=0.5, tie_weights=False):
        super().__init__()
        self.drop = Dropout(dropout)
        self.encoder = Embedding(ntoken, ninp)
        self.rnn = LSTM(ninp, nhid, nlayers, dropout=dropout if nlayers > 1 else 0.0, batch_first=True)
        self.decoder = Linear(nhid, ntoken)
        if tie_weights:
            if nhid != ninp:
                raise ValueError("tie_weights needs nhid == ninp")
            self.decoder.weight = self.encoder.weight
        init.uniform_(self.encoder.weight, -0.1, 0.1)
        init.zeros_(self.decoder.bias)
        init.uniform_(self.decoder.weight, -0.1, 0.1)

    def forward(self, input_ids, past_key_values=None, use_cache=False):
        x = self.drop(self.encoder(input_ids))
        out, state = self.rnn(x, past_key_values)
        return self.decoder(self.drop(out)), (state if use_cache else None)


@register_model("text-generation", token_input(128, 10000), "word language model (torch.nn.LSTM)")
def lstm_lm(**kw):
    """2-layer LSTM language model, 10k vocabulary, 650 units (the "medium" setting)."""
    return LSTMLanguageModel(**kw)
