"""The intervention: teacher traces, format-vs-content ablation sets, SFT students, the organism."""
