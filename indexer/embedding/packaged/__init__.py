"""The packaged model: locating the shipped weights, reading their 4-bit format, writing the torch folder and the ONNX graph."""
