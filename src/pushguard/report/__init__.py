"""Reports and exports: HTML report, OCSF export, summaries."""
