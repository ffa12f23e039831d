"""The type names MMAction2 1.2.0 and MMEngine 0.10 register, as their configs use them.

A fact list (read off their registries, one registry per ``#`` line), used for one message: a
config naming one of these that vidlab does not implement is told so plainly ("MMAction2's
'VindLURetrieval' is not implemented in vidlab"), instead of being offered a look-alike name.
"""

_LISTED = """
# MODELS
AAGCN ActionDataPreprocessor BCELossWithLogits BMN BMNLoss BinaryLogisticRegressionLoss C2D C3D
CBFocalLoss CLIPSimilarity Conv2plus1d ConvAudio CrossEntropyLoss CutmixBlending
DividedSpatialAttentionWithNorm DividedTemporalAttentionWithNorm FFNWithNorm FeatureHead GCNHead
HVULoss I3DHead MMRecognizer3D MViT MViTHead MixupBlending MobileNetV2 MobileNetV2TSM
MultiModalDataPreprocessor NLLLoss OmniHead OmniResNet PEM RGBPoseConv3D RGBPoseHead
RandomBatchAugment Recognizer2D Recognizer3D RecognizerAudio RecognizerGCN RecognizerOmni ResNet
ResNet2Plus1d ResNet3d ResNet3dCSN ResNet3dLayer ResNet3dSlowFast ResNet3dSlowOnly ResNetAudio
ResNetTIN ResNetTSM SSNLoss STGCN SimpleMeanAdapter SlowFastHead SubBatchNorm3D
SwinTransformer3D TANet TCANet TEM TPN TPNHead TRNHead TSMHead TSNAudioHead TSNHead TimeSformer
TimeSformerHead TransformerAdapter UniFormer UniFormerHead UniFormerV2 VindLURetrieval
VindLURetrievalMC VindLUVQA VisionTransformer X3D X3DHead
# DATASETS
AVADataset AVAKineticsDataset ActivityNetDataset AudioDataset CharadesSTADataset MSRVTTRetrieval
MSRVTTVQA MSRVTTVQAMC PoseDataset RawframeDataset RepeatAugDataset VideoDataset VideoTextDataset
# TRANSFORMS
ArrayDecode AudioFeatureSelector BuildPseudoClip CLIPTokenize CenterCrop ColorJitter
DecompressPose DecordDecode DecordInit DenseSampleFrames Flip FormatAudioShape FormatGCNInput
FormatShape Fuse GenSkeFeat GenerateLocalizationLabels GeneratePoseTarget ImageDecode ImgAug
InferencerPackInput JointToBone LoadAudioFeature LoadHVULabel LoadLocalizationFeature
LoadProposals LoadRGBFromFile MMCompact MMDecode MMUniformSampleFrames MergeSkeFeat
MultiScaleCrop OpenCVDecode OpenCVInit PIMSDecode PIMSInit PackActionInputs
PackLocalizationInputs PadTo PoseCompact PoseDecode PreNormalize2D PreNormalize3D PyAVDecode
PyAVDecodeMotionVector PyAVInit PytorchVideoWrapper RandomCrop RandomErasing RandomRescale
RandomResizedCrop RawFrameDecode Resize SampleAVAFrames SampleFrames TenCrop ThreeCrop ToMotion
TorchVisionWrapper Transpose UniformSample UniformSampleFrames UntrimmedSampleFrames
# METRICS
ANetMetric AVAMetric AccMetric ConfusionMatrix MultiSportsMetric RecallatTopK ReportVQA
RetrievalMetric RetrievalRecall VQAAcc VQAMCACC
# HOOKS
VisualizationHook
# LOOPS
MultiLoaderEpochBasedTrainLoop RetrievalTestLoop RetrievalValLoop
# OPTIM_WRAPPER_CONSTRUCTORS
LearningRateDecayOptimizerConstructor SwinOptimWrapperConstructor TSMOptimWrapperConstructor
# VISBACKENDS
LocalVisBackend TensorboardVisBackend WandbVisBackend
# VISUALIZERS
ActionVisualizer
# MMENGINE_HOOKS
CheckpointHook DistSamplerSeedHook EMAHook EarlyStoppingHook EmptyCacheHook IterTimerHook
LoggerHook NPUProfilerHook NaiveVisualizationHook ParamSchedulerHook PrepareTTAHook ProfilerHook
RFSearchHook RuntimeInfoHook SyncBuffersHook
# MMENGINE_LOOPS
EpochBasedTrainLoop IterBasedTrainLoop TestLoop ValLoop
# MMENGINE_PARAM_SCHEDULERS
ConstantLR ConstantMomentum ConstantParamScheduler CosineAnnealingLR CosineAnnealingMomentum
CosineAnnealingParamScheduler CosineRestartLR CosineRestartMomentum CosineRestartParamScheduler
ExponentialLR ExponentialMomentum ExponentialParamScheduler LinearLR LinearMomentum
LinearParamScheduler MultiStepLR MultiStepMomentum MultiStepParamScheduler OneCycleLR
OneCycleParamScheduler PolyLR PolyMomentum PolyParamScheduler ReduceOnPlateauLR
ReduceOnPlateauMomentum ReduceOnPlateauParamScheduler StepLR StepMomentum StepParamScheduler
# MMENGINE_OPTIM_WRAPPERS
AmpOptimWrapper ApexOptimWrapper ColossalAIOptimWrapper DeepSpeedOptimWrapper OptimWrapper
# MMENGINE_VISBACKENDS
AimVisBackend ClearMLVisBackend DVCLiveVisBackend LocalVisBackend MLflowVisBackend
NeptuneVisBackend TensorboardVisBackend WandbVisBackend
# MMENGINE_DATASETS
ClassBalancedDataset ConcatDataset RepeatDataset
# MMENGINE_DATA_SAMPLERS
DefaultSampler InfiniteSampler
# MMENGINE_LOG_PROCESSORS
LogProcessor
# MMENGINE_METRICS
DumpResults
"""

MMACTION2_NAMES = frozenset(
    word for line in _LISTED.splitlines() if not line.startswith("#") for word in line.split()
)

# MMAction2 names that vidlab replaces on purpose: the one line said instead of "not implemented".
REPLACED = {
    "ImgAug": (
        "MMAction2's 'ImgAug' wraps the imgaug package, which is unmaintained (last release "
        "0.4.0 in 2020) and is not in vidlab; use vidlab's transforms instead: "
        "RandAugment, ColorJitter, RandomErasing, Flip, RandomResizedCrop or MultiScaleCrop"
    ),
}
