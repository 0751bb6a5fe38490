/**
 * Checkpoint and array I/O: safetensors, PyTorch {@code torch.save} files (zip and legacy pickle, read
 * with a whitelisting unpickler that never runs code), and numpy {@code .npy}/{@code .npz}. Every reader
 * turns a file into named DJL {@link ai.djl.ndarray.NDArray}s attached to a caller-supplied manager;
 * every writer writes atomically.
 */
package dev.qncd.core.io;
