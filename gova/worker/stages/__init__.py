"""One module per stage of the topology; `gova.worker.main.STAGES` lists them."""
