"""promethean: the Prometheus monitoring stack in Python.

Each component lives in its own subpackage (see DESIGN.md); this top-level
package only carries the version, so importing it costs nothing.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
