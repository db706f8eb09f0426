"""Running LAMMPS with the plugin: where the plugin is, the process environment, Python sessions,
single-point evaluations."""
