// Pairwise (2-way) identification: is a reconstruction more similar to its
// own stimulus than to another test stimulus? Chance is 0.5; the mean
// image scores exactly 0.5, so unlike PCC it cannot be gamed by priors.
#ifndef V2P_CORE_EVALUATION_IDENTIFICATION_H_
#define V2P_CORE_EVALUATION_IDENTIFICATION_H_

#include "Eigen/Core"

namespace v2p::core {

// similarity(i, j) = similarity of reconstruction i to stimulus j (square).
// Returns the fraction of ordered pairs (i, j != i) with similarity(i, i) >
// similarity(i, j); ties count one half. NaN when n < 2.
double PairwiseIdentification(const Eigen::MatrixXd& similarity);

// Per reconstruction i: the fraction of the other stimuli j with
// similarity(i, i) > similarity(i, j) (ties one half); its mean is
// PairwiseIdentification. NaN entries when n < 2.
Eigen::VectorXd IdentificationPerItem(const Eigen::MatrixXd& similarity);

// The same over the pairs whose stimuli share a label (e.g. two different
// sixes): can the reconstruction tell its own stimulus from another of its
// class, or does it only draw the class? NaN without such pairs or when
// labels and similarity disagree in size.
double PairwiseIdentificationWithinClass(const Eigen::MatrixXd& similarity,
                                         const Eigen::VectorXi& labels);

}  // namespace v2p::core

#endif  // V2P_CORE_EVALUATION_IDENTIFICATION_H_
