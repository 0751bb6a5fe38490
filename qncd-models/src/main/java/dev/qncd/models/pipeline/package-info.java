/** Sampling pipelines: from a model and a sampler to image files, batches and run reports. */
package dev.qncd.models.pipeline;
