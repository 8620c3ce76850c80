"""medqa: grounded medical question answering over NIH MedQuAD.

The library behind the Streamlit app. It never imports ``streamlit`` so it can be used from the
command line (``python -m medqa``), from tests and from notebooks.
"""

from __future__ import annotations

__version__ = "0.1.0"
