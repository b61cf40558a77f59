"""Teach it your own classes: pooled MobileNet features through onnxruntime, a softmax head in numpy, and one
ONNX file joining both, exported like the rest. No TensorFlow: this package imports only core and serving."""
