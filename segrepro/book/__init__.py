"""The book: :mod:`~segrepro.book.build` executes the notebooks and builds the Jupyter Book,
:mod:`~segrepro.book.check` checks the built pages in a headless browser."""
