"""The emseg docs site: notebook pages, generated pages, source zips and mkdocs hooks
(built by ``python tools/build_site.py``)."""
