"""The manuscript's text generated from a finished run, so it is always true.

Every number in the Summary, the Methods, the participant flow and the TRIPOD+AI checklist
is read from what the run wrote (``reports/<study>/tables``, ``model/model.json``, the
executed notebooks' parameters and ``tables/run_settings_<NN>.csv``), never from defaults
that might differ:

* :mod:`~analysis.manuscript.run_settings` - the settings a notebook used, recorded by one
  line in notebooks 04-06 (``record_run_settings``), and the run's facts read back with
  their source (``run_facts``);
* :mod:`~analysis.manuscript.summary` - ``summary_markdown``;
* :mod:`~analysis.manuscript.methods` - ``methods_markdown``;
* :mod:`~analysis.manuscript.flow` - ``participant_flow``;
* :mod:`~analysis.manuscript.tripod` - ``tripod_checklist``;
* :mod:`~analysis.manuscript.references` - the cited methods and software;

Import the functions from their modules (``from analysis.manuscript.summary import
summary_markdown``): Make derives each notebook's prerequisites from its imports
(:mod:`analysis.pipeline.deps`), and this file imports nothing, so notebooks 04-06, which
import only ``run_settings``, are not re-run when the wording of the Methods changes.
"""
