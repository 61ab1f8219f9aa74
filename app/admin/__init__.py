"""Admin commands for the first hour of an incident (`python -m scripts.admin`)."""
