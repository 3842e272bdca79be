"""The Faust worker: the App (`app`), its topics and tables, the stages that run in it
(`stages/`, listed in `main.STAGES`), and the resources they share (`resources`).

Importing this package builds nothing; `gova.worker.main` loads the app with every stage.
"""
