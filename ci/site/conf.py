"""Sphinx configuration of the course site (built by ci/build_site.py, never by hand).

Sphinx + MyST-NB + sphinx-book-theme: the Jupyter Book 1 stack without its wrapper. It renders the
outputs stored in the executed notebooks (no execution at build time) and needs no network.
"""
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))
from course_utils.paths import REPO_URL  # noqa: E402

project = "Action Recognition in Video with TensorFlow"
author = "the course authors"
copyright = "the course authors, MIT licence"

extensions = ["myst_nb"]
# The executed notebooks of `make course` carry their outputs: render them, never re-execute.
nb_execution_mode = "off"
nb_merge_streams = True
# No dollarmath: a "$" in prose stays a dollar. Sphinx loads MathJax from a CDN on pages with math,
# which the offline browser test would catch; the course pages have none.
myst_enable_extensions = ["colon_fence", "attrs_inline"]
myst_heading_anchors = 3
master_doc = "index"
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
suppress_warnings = ["mystnb.unknown_mime_type", "myst.header"]

html_theme = "sphinx_book_theme"
html_context = {"default_mode": "light"}  # an explicit mode: the theme logs a console error without one
html_title = "Action recognition in video"
html_static_path = ["_static"]
html_favicon = "_static/favicon.svg"
html_css_files = ["course.css"]
html_last_updated_fmt = None
html_show_sourcelink = False
html_copy_source = True  # keeps _sources/*.ipynb, the notebook download button links there
html_theme_options = {
    "repository_url": REPO_URL,
    "repository_branch": "main",
    "path_to_docs": "notebooks",
    "use_repository_button": True,
    "use_download_button": True,
    "use_fullscreen_button": False,
    "home_page_in_toc": True,
    "show_navbar_depth": 1,
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "launch_buttons": {},
}
