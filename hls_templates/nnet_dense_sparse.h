// codesign sparse dense kernel for hls4ml projects (Vivado/Vitis HLS, io_parallel and io_stream).
//
// Only the nonzero weights are stored, each with its input index and the offset of its output from
// its multiplier lane's first output (parallel arrays, each index with its own narrow type; one
// first-output constant per lane). The n_nonzeros weights are laid out
// slot-major as [reuse_factor][n_mult] with n_mult = ceil(n_nonzeros / reuse_factor) multipliers;
// the padding entries have weight 0. Two hardware forms of the same arithmetic (CONFIG_T::unrolled):
// constants unrolled into n_nonzeros shared multiply-accumulates, or a ROM of reuse_factor words
// read one per cycle. Either way the layer's II is reuse_factor.
//
// Bit-exact with nnet::dense_latency / dense_resource: every product is cast to accum_t through
// CONFIG_T::product exactly as they do, the bias initialises the accumulator and the result is
// nnet::cast to res_T. Only the order of the accumulator additions differs, which does not change a
// fixed-point sum that does not overflow accum_t (hls4ml infers a lossless accum_t) and does not
// change a wrapping sum at all.
#ifndef NNET_DENSE_SPARSE_H_
#define NNET_DENSE_SPARSE_H_

#include "hls_stream.h"
#include "nnet_common.h"
#include "nnet_mult.h"

namespace nnet {

struct dense_sparse_config {
    typedef float accum_t;
    typedef float bias_t;
    typedef float weight_t;
    typedef unsigned in_index_t;
    typedef unsigned out_index_t;   // offset from the lane's first output
    typedef unsigned lane_out_t;    // a lane's first output

    static const unsigned n_in = 10;
    static const unsigned n_out = 10;
    static const unsigned n_nonzeros = 10;
    static const unsigned reuse_factor = 1;
    static const unsigned n_mult = 10;   // DIV_ROUNDUP(n_nonzeros, reuse_factor): multipliers
    static const unsigned io_type = io_parallel;
    static const bool unrolled = true;    // true: dense_sparse_unrolled, false: dense_sparse_rom

    template <class x_T, class y_T> using product = nnet::product::mult<x_T, y_T>;
};

// Unrolled form (CONFIG_T::unrolled): every nonzero is its own multiply-accumulate; the function
// is pipelined at II = reuse_factor and HLS shares n_mult multipliers among them (ALLOCATION), as
// nnet::dense_latency does. With function_instantiate the weights and both index arrays are
// constants, so the indices become wiring and only the nonzeros exist in hardware. For layers whose
// nonzeros HLS can unroll (a few thousand).
template <class data_T, class res_T, typename CONFIG_T>
void dense_sparse_unrolled(data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_out],
                           typename CONFIG_T::weight_t weights[CONFIG_T::n_mult * CONFIG_T::reuse_factor],
                           typename CONFIG_T::in_index_t in_index[CONFIG_T::n_mult * CONFIG_T::reuse_factor],
                           typename CONFIG_T::out_index_t out_index[CONFIG_T::n_mult * CONFIG_T::reuse_factor],
                           typename CONFIG_T::lane_out_t lane_out[CONFIG_T::n_mult],
                           typename CONFIG_T::bias_t biases[CONFIG_T::n_out]) {
    #pragma HLS PIPELINE II=CONFIG_T::reuse_factor
    #pragma HLS function_instantiate variable=weights,in_index,out_index,lane_out,biases
    #pragma HLS ARRAY_PARTITION variable=lane_out complete
    #pragma HLS ARRAY_PARTITION variable=weights complete
    #pragma HLS ARRAY_PARTITION variable=in_index complete
    #pragma HLS ARRAY_PARTITION variable=out_index complete
    #pragma HLS ARRAY_PARTITION variable=biases complete
    #pragma HLS ALLOCATION operation instances=mul limit=CONFIG_T::n_mult

    typename CONFIG_T::accum_t acc[CONFIG_T::n_out];
    #pragma HLS ARRAY_PARTITION variable=acc complete

InitAccum:
    for (unsigned i = 0; i < CONFIG_T::n_out; i++) {
        acc[i] = (typename CONFIG_T::accum_t)biases[i];
    }
NonzeroLoop:
    for (unsigned k = 0; k < CONFIG_T::n_mult * CONFIG_T::reuse_factor; k++) {
        acc[lane_out[k % CONFIG_T::n_mult] + out_index[k]] +=
            CONFIG_T::template product<data_T, typename CONFIG_T::weight_t>::product(data[in_index[k]], weights[k]);
    }
Result:
    for (unsigned i = 0; i < CONFIG_T::n_out; i++) {
        res[i] = cast<data_T, res_T, CONFIG_T>(acc[i]);
    }
}

// ROM form: the triplets live in a memory of reuse_factor words (one word per reuse slot holds
// the slot's n_mult triplets: block RAM or LUTRAM), read one word per clock cycle (II = 1 inside,
// reuse_factor for the layer). Each multiplier lane selects its input through an n_in-way
// multiplexer and adds into the accumulator lane_out[lane] + out_index: a lane's nonzeros are
// consecutive in output order, so the offset is a few bits and the lane reaches only the few
// accumulators after its constant first output. For layers too large to unroll.
template <class data_T, class res_T, typename CONFIG_T>
void dense_sparse_rom(data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_out],
                      typename CONFIG_T::weight_t weights[CONFIG_T::n_mult * CONFIG_T::reuse_factor],
                      typename CONFIG_T::in_index_t in_index[CONFIG_T::n_mult * CONFIG_T::reuse_factor],
                      typename CONFIG_T::out_index_t out_index[CONFIG_T::n_mult * CONFIG_T::reuse_factor],
                      typename CONFIG_T::lane_out_t lane_out[CONFIG_T::n_mult],
                      typename CONFIG_T::bias_t biases[CONFIG_T::n_out]) {
    #pragma HLS function_instantiate variable=weights,in_index,out_index,lane_out,biases
    #pragma HLS ARRAY_PARTITION variable=biases complete
    #pragma HLS ARRAY_PARTITION variable=lane_out complete
    #pragma HLS ARRAY_RESHAPE variable=weights cyclic factor=CONFIG_T::n_mult
    #pragma HLS ARRAY_RESHAPE variable=in_index cyclic factor=CONFIG_T::n_mult
    #pragma HLS ARRAY_RESHAPE variable=out_index cyclic factor=CONFIG_T::n_mult
    #pragma HLS ALLOCATION operation instances=mul limit=CONFIG_T::n_mult

    typename CONFIG_T::accum_t acc[CONFIG_T::n_out];
    #pragma HLS ARRAY_PARTITION variable=acc complete

InitAccum:
    for (unsigned i = 0; i < CONFIG_T::n_out; i++) {
        #pragma HLS UNROLL
        acc[i] = (typename CONFIG_T::accum_t)biases[i];
    }
ReuseLoop:
    for (unsigned ir = 0; ir < CONFIG_T::reuse_factor; ir++) {
        #pragma HLS PIPELINE II=1 rewind
    MultLoop:
        for (unsigned im = 0; im < CONFIG_T::n_mult; im++) {
            #pragma HLS UNROLL
            const unsigned k = ir * CONFIG_T::n_mult + im;
            acc[lane_out[im] + out_index[k]] +=
                CONFIG_T::template product<data_T, typename CONFIG_T::weight_t>::product(data[in_index[k]], weights[k]);
        }
    }
Result:
    for (unsigned i = 0; i < CONFIG_T::n_out; i++) {
        #pragma HLS UNROLL
        res[i] = cast<data_T, res_T, CONFIG_T>(acc[i]);
    }
}

template <class data_T, class res_T, typename CONFIG_T>
void dense_sparse(data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_out],
                  typename CONFIG_T::weight_t weights[CONFIG_T::n_mult * CONFIG_T::reuse_factor],
                  typename CONFIG_T::in_index_t in_index[CONFIG_T::n_mult * CONFIG_T::reuse_factor],
                  typename CONFIG_T::out_index_t out_index[CONFIG_T::n_mult * CONFIG_T::reuse_factor],
                  typename CONFIG_T::lane_out_t lane_out[CONFIG_T::n_mult],
                  typename CONFIG_T::bias_t biases[CONFIG_T::n_out]) {
    #pragma HLS INLINE
    if (CONFIG_T::unrolled) {
        dense_sparse_unrolled<data_T, res_T, CONFIG_T>(data, res, weights, in_index, out_index, lane_out, biases);
    } else {
        dense_sparse_rom<data_T, res_T, CONFIG_T>(data, res, weights, in_index, out_index, lane_out, biases);
    }
}

// io_stream: unpack the input stream into an array, run the kernel, pack the result stream (the
// same framing as nnet::dense for hls::stream in nnet_dense_stream.h).
template <class data_T, class res_T, typename CONFIG_T>
void dense_sparse(hls::stream<data_T> &data_stream, hls::stream<res_T> &res_stream,
                  typename CONFIG_T::weight_t weights[CONFIG_T::n_mult * CONFIG_T::reuse_factor],
                  typename CONFIG_T::in_index_t in_index[CONFIG_T::n_mult * CONFIG_T::reuse_factor],
                  typename CONFIG_T::out_index_t out_index[CONFIG_T::n_mult * CONFIG_T::reuse_factor],
                  typename CONFIG_T::lane_out_t lane_out[CONFIG_T::n_mult],
                  typename CONFIG_T::bias_t biases[CONFIG_T::n_out]) {
    typename data_T::value_type data[CONFIG_T::n_in];
    #pragma HLS ARRAY_PARTITION variable=data complete
    typename res_T::value_type res[CONFIG_T::n_out];
    #pragma HLS ARRAY_PARTITION variable=res complete

DataPrepare:
    for (unsigned i_in = 0; i_in < CONFIG_T::n_in / data_T::size; i_in++) {
        #pragma HLS PIPELINE
        data_T data_pack = data_stream.read();
    DataPack:
        for (unsigned i_pack = 0; i_pack < data_T::size; i_pack++) {
            #pragma HLS UNROLL
            data[i_in * data_T::size + i_pack] = data_pack[i_pack];
        }
    }

    dense_sparse<typename data_T::value_type, typename res_T::value_type, CONFIG_T>(data, res, weights, in_index,
                                                                                   out_index, lane_out, biases);

ResWrite:
    for (unsigned i_out = 0; i_out < CONFIG_T::n_out / res_T::size; i_out++) {
        #pragma HLS PIPELINE
        res_T res_pack;
        PRAGMA_DATA_PACK(res_pack)
    ResPack:
        for (unsigned i_pack = 0; i_pack < res_T::size; i_pack++) {
            #pragma HLS UNROLL
            res_pack[i_pack] = res[i_out * res_T::size + i_pack];
        }
        res_stream.write(res_pack);
    }
}

} // namespace nnet

#endif
