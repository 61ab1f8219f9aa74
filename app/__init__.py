"""BlokID backend."""
