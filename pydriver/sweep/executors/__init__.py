"""Executors of a sweep: ``local`` (processes here) and ``slurm`` (``sbatch``/``squeue``)."""
