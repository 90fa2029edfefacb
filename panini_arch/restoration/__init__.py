"""Whole-photo face restoration on top of the core: detection, alignment, restoration, paste-back."""
