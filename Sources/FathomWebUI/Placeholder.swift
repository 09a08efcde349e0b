// Rendering of the web UI.
