"""Retrieval: dense and BM25 indexes, fusion, abstention and the search engine built on them."""
