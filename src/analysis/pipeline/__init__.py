"""Pipeline: run notebooks through Papermill, export tables and figures, render reports, the command line."""
