from hw_sim.cli import sim

sim(prog_name="python -m hw_sim")
