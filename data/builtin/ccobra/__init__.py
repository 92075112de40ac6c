"""Trial-level human data from CognitiveComputationLab/ccobra (MIT); see SOURCE.txt."""
