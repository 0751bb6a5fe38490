/** Evaluation inputs: ADM .npz batches, feature files, reference statistics, image folders. */
package dev.qncd.eval.io;
