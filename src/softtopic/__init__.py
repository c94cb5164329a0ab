"""softtopic: neural topic models supervised by language-model soft labels (DSL)."""

__version__ = "0.1.0"
