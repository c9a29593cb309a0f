// Everything in nn/: modules and layers, initialisation, summaries and metrics.
#pragma once

#include "nn/activation.h"
#include "nn/batch_norm.h"
#include "nn/container.h"
#include "nn/conv2d.h"
#include "nn/dropout.h"
#include "nn/init.h"
#include "nn/linear.h"
#include "nn/merge.h"
#include "nn/metrics.h"
#include "nn/module.h"
#include "nn/pool2d.h"
#include "nn/stochastic_depth.h"
#include "nn/summary.h"
