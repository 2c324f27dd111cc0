"""The index: where chunks, their vectors and their keyword postings are kept and searched.

``local`` is the on-disk FAISS index (atomic generations in a folder), ``keywords`` its BM25 side.
"""
