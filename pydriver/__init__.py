"""pydriver: M3GNet molecular dynamics in LAMMPS, from checkpoint export to ionic-transport analysis.

The compiled LAMMPS plugin (``pair_style m3gnet``) ships inside this package; see
:mod:`pydriver.lammps.plugin_path` for where it lives and :mod:`pydriver.lammps.session` for a
Python ``lammps.lammps()`` object with it loaded.
"""

__version__ = "0.1.0"
