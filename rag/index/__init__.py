"""The index: where chunks, their vectors and their keyword postings are kept and searched.

Two backends with the same two roles, a writer (``update``, ``repair``, ``open``) and a snapshot a
question reads (``candidates``, ``chunks``, ``documents``, ``entries``, ``term_stats``,
``dense_reference``, ``name``, ``is_live``):

- ``local``: a folder of atomic generations (``generations``, ``manifest``): a SQLite docstore
  (``docstore``), memory-mapped vectors searched exactly or by PQ fast scan (``vectors``), BM25
  postings (``keywords``), and the cache that lets an interrupted build resume (``embedcache``);
- ``postgres``: the same index in PostgreSQL + pgvector, for archives shared by several machines.

``plan`` decides what an update adds, changes, keeps and removes, for both.
"""
