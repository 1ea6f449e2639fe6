"""3DPE editor (issue 5): network, data, training, export."""
