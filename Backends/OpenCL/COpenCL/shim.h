// OpenCL headers only (opencl-headers): libOpenCL.so.1 is opened at run time, never linked.
// cl.h declares the functions; cl_icd.h has a function-pointer type (cl_api_clXxx) for every one.
#define CL_TARGET_OPENCL_VERSION 300
#include <CL/cl.h>
#include <CL/cl_icd.h>
