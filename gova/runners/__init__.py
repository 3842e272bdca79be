"""Starting and stopping processes: the embedded infrastructure and Gova's own services."""
