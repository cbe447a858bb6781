"""The physicians' only way into Label Studio: a reverse proxy that lets each physician open and submit
exactly the tasks routed to them, as their own Label Studio user, and nothing else."""
