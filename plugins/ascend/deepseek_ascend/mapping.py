"""The op -> aclnn mapping of deepseek-ascend, declared once (``MAPPING``): for each primitive op,
its ways to run, best first. ``csrc/gen_aclnn_table.py`` turns it into the C table of the
launch path (``csrc/aclnn_table.h``) and the README's mapping table; at load the first way
whose aclnn operators all resolve (dlsym) is the op's, and an op with none left runs on the CPU.

Each way is ``(convention, operators, argument, note)``: a calling convention of
``csrc/aclnn_ops.c`` (``ASC_<CONVENTION>``), the aclnn operators it needs, an integer argument
of the convention, and a note for the README.
"""
from __future__ import annotations

UNARY = {
    "neg": "Neg", "abs": "Abs", "sign": "Sign", "exp": "Exp", "log": "Log", "log1p": "Log1p", "expm1": "Expm1",
    "sqrt": "Sqrt", "rsqrt": "Rsqrt", "sin": "Sin", "cos": "Cos", "tan": "Tan", "tanh": "Tanh",
    "sigmoid": "Sigmoid", "erf": "Erf", "floor": "Floor", "ceil": "Ceil", "round": "Round", "trunc": "Trunc",
    "reciprocal": "Reciprocal", "relu": "Relu", "logical_not": "LogicalNot", "bitwise_not": "BitwiseNot",
    "asin": "Asin", "acos": "Acos", "atan": "Atan", "sinh": "Sinh", "cosh": "Cosh", "log2": "Log2",
    "exp2": "Exp2", "erfc": "Erfc", "lgamma": "Lgamma", "digamma": "Digamma",
}
BINARY = {
    "mul": "Mul", "div": "Div", "floor_divide": "FloorDivide", "pow": "PowTensorTensor", "maximum": "Maximum",
    "minimum": "Minimum", "fmod": "FmodTensor", "remainder": "RemainderTensorTensor", "atan2": "Atan2",
    "bitwise_and": "BitwiseAndTensor", "bitwise_or": "BitwiseOrTensor", "bitwise_xor": "BitwiseXorTensor",
    "eq": "EqTensor", "ne": "NeTensor", "lt": "LtTensor", "le": "LeTensor", "gt": "GtTensor", "ge": "GeTensor",
    "logical_and": "LogicalAnd", "logical_or": "LogicalOr", "logical_xor": "LogicalXor",
}

#: op -> ways to run it, best first: (convention, aclnn operators, argument, note for the README)
MAPPING = {op: [("UNARY", [f"aclnn{n}"], 0, "")] for op, n in UNARY.items()}
MAPPING.update({op: [("BINARY", [f"aclnn{n}"], 0, "")] for op, n in BINARY.items()})
MAPPING.update({
    "polygamma": [("POLYGAMMA", ["aclnnPolygamma"], 0, "")],
    "add": [("BINARY_ALPHA", ["aclnnAdd"], 1, "alpha = 1")],
    "sub": [("BINARY_ALPHA", ["aclnnSub"], 1, "alpha = 1"),
            ("BINARY_ALPHA", ["aclnnAdd"], -1, "a + (-1) * b")],
    "where": [("WHERE", ["aclnnSWhere"], 0, "")],
    "cast": [("CAST", ["aclnnCast"], 0, "")],
    "copy": [("COPY", ["aclnnInplaceCopy"], 0, "")],
    "fill": [("FILL", ["aclnnInplaceFillScalar"], 0, "")],
    "arange": [("ARANGE", ["aclnnArange"], 0, "end = start + n * step (floats: n - 1/2 steps)")],
    "cat": [("CAT", ["aclnnCat"], 0, "an aclTensorList")],
    "pad": [("PAD", ["aclnnConstantPadNd"], 0, "pads reordered last dim first")],
    "sum": [("REDUCE", ["aclnnReduceSum"], 0, "keepDim")],
    "prod": [("PROD", ["aclnnProdDim"], 0, "one call per reduced dim")],
    "amax": [("REDUCE", ["aclnnAmax"], 1, "keepDim")],
    "amin": [("REDUCE", ["aclnnAmin"], 1, "keepDim")],
    "argmax": [("ARG", ["aclnnArgMax"], 0, "keepdim")],
    "argmin": [("ARG", ["aclnnArgMin"], 0, "keepdim")],
    "cumsum": [("CUMSUM", ["aclnnCumsum"], 0, "")],
    "cumprod": [("CUMPROD", ["aclnnCumprod"], 0, "dim as an aclScalar")],
    "matmul": [("MATMUL", ["aclnnBatchMatMul", "aclnnMul", "aclnnReduceSum"], 0,
                "cubeMathType 0 (keep dtype) for float16/bfloat16/float32; other dtypes: aclnnMul of "
                "broadcast views, aclnnReduceSum over k")],
    "conv2d": [("CONV", ["aclnnConvolution"], 0, "no bias; float64: products of views (csrc/products.c)")],
    "conv2d_input_grad": [("CONV_GRAD", ["aclnnConvolutionBackward"], 0, "outputMask [1, 0, 0]; float64: products")],
    "conv2d_weight_grad": [("CONV_GRAD", ["aclnnConvolutionBackward"], 1, "outputMask [0, 1, 0]; float64: products")],
    "gather": [("GATHER", ["aclnnGather"], 0, "")],
    "scatter": [("SCATTER", ["aclnnScatter"], 0, "reduce 0")],
    "scatter_add": [("SCATTER_ADD", ["aclnnScatterAdd"], 0, ""),
                    ("SCATTER", ["aclnnScatter"], 1, "reduce 1 (add)")],
    "index_select": [("INDEX_SELECT", ["aclnnIndexSelect"], 0, "")],
    "index_add": [("INDEX_ADD", ["aclnnIndexAdd"], 0, "alpha = 1")],
    "index": [("INDEX", ["aclnnIndex"], 0, "an aclTensorList of indices")],
    "index_put": [("INDEX_PUT", ["aclnnInplaceCopy", "aclnnIndexPutImpl"], 0, "out = x, then in place")],
    "sort": [("SORT", ["aclnnSort"], 0, "stable")],
    "topk": [("TOPK", ["aclnnTopk"], 0, "sorted")],
    # aclnn's generators draw other streams than the core's counter-based Philox, so the plugin
    # draws the core's stream on the host (csrc/host_random.c) and copies it to the device
    "rand": [("HOST_RANDOM", [], 0, "Philox on the host, aclrtMemcpy")],
    "randn": [("HOST_RANDOM", [], 0, "Philox on the host, aclrtMemcpy")],
    "randint": [("HOST_RANDOM", [], 0, "Philox on the host, aclrtMemcpy")],
    "randperm": [("HOST_RANDOM", [], 0, "Philox on the host, aclrtMemcpy")],
    "bernoulli": [("BERNOULLI", ["aclnnLtTensor"], 0, "host uniforms (float64) < p")],
})
#: operators the launch path may use for any op: a view with negative strides is flipped into
#: contiguous scratch (aclnn takes non-negative strides only), an identity reduction is a copy,
#: and a convolution outside aclnnConvolution's dtypes is made of products and sums
#: (csrc/conv_products.c)
HELPERS = ["aclnnFlip", "aclnnInplaceCopy", "aclnnInplaceAdd", "aclnnMul", "aclnnReduceSum", "aclnnConstantPadNd",
           "aclnnInplaceFillScalar"]

