"""Search: the retriever, fusion of rankings, filters and priors."""
