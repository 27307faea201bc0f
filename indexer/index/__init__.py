"""Index storage: the bundle and its publication, vector and lexical indexes, passage store, embedding cache."""
