// codesign clip activation for hls4ml projects (Vivado/Vitis HLS, io_parallel and io_stream):
// res = min(max(x, lo), hi), the ONNX Clip that ReLU6, Hardtanh and torch.clamp export as.
//
// The bounds are constants of CONFIG_T::bound_t (wide enough to hold the usual bounds exactly);
// the comparison of ap_fixed numbers of different formats is exact, and the chosen value is cast
// to res_T like every hls4ml activation result, so the C simulation equals
// quantize(clamp(x, lo, hi), res_T) bit for bit.
#ifndef NNET_CLIP_H_
#define NNET_CLIP_H_

#include "hls_stream.h"
#include "nnet_common.h"

namespace nnet {

struct clip_config {
    typedef ap_fixed<40, 20> bound_t;
    static const unsigned n_in = 10;
    static const unsigned io_type = io_parallel;
    static const unsigned reuse_factor = 1;
    static const bound_t lo;
    static const bound_t hi;
};

template <class data_T, class res_T, typename CONFIG_T> res_T clip_one(data_T x) {
    #pragma HLS INLINE
    if (x < CONFIG_T::lo)
        return res_T(CONFIG_T::lo);
    if (x > CONFIG_T::hi)
        return res_T(CONFIG_T::hi);
    return res_T(x);
}

template <class data_T, class res_T, typename CONFIG_T> void clip(data_T data[CONFIG_T::n_in], res_T res[CONFIG_T::n_in]) {
    #pragma HLS PIPELINE
    for (unsigned i = 0; i < CONFIG_T::n_in; i++) {
        #pragma HLS UNROLL
        res[i] = clip_one<data_T, res_T, CONFIG_T>(data[i]);
    }
}

template <class data_T, class res_T, typename CONFIG_T> void clip(hls::stream<data_T> &data, hls::stream<res_T> &res) {
    for (unsigned i = 0; i < CONFIG_T::n_in / res_T::size; i++) {
        #pragma HLS PIPELINE
        data_T in_data = data.read();
        res_T out_data;
        PRAGMA_DATA_PACK(out_data)
        for (unsigned j = 0; j < res_T::size; j++) {
            #pragma HLS UNROLL
            out_data[j] = clip_one<typename data_T::value_type, typename res_T::value_type, CONFIG_T>(in_data[j]);
        }
        res.write(out_data);
    }
}

} // namespace nnet

#endif
