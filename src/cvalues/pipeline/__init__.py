"""The main job: every model of a config through every CValues stage into one output folder.

``config`` (the validated YAML), ``preflight`` (what is missing, before any work), ``stages`` (the plan
of model x stage and the orchestration that runs it, resumably). Above ``mc``, ``runs``, ``models`` and
``data``; the judge, the annotation export and the report are called through their own libraries.
"""
