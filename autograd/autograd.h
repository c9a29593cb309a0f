// Everything the autograd layer offers, in one include.
#pragma once

#include "autograd/function.h"   // custom functions (hand-written forward and backward)
#include "autograd/grad_mode.h"  // GradMode, NoGradGuard
#include "autograd/gradcheck.h"  // finite-difference Jacobian check
#include "autograd/node.h"       // Node, SavedTensor, record, sum_to: writing an op
#include "autograd/ops.h"        // the differentiable ops and operators
#include "autograd/variable.h"   // requires_grad, grad, detach, hooks, backward
