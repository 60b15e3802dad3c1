//! Label and field selectors: parsing (the `kubectl -l` / `--field-selector` syntax) and matching.
