"""Embedding: the Encoder protocol, its factory, the fake, sentence-transformers and ONNX backends, the tokenizer."""
