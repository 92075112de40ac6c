"""ConceptARC tasks and item-level human accuracy from victorvikram/ConceptARC (MIT); see SOURCE.txt."""
