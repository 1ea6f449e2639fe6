export * from './frame.js';
// Face tracking, head pose, alignment, matte and compositing (issue 3).
export { loadHumanModels, type LoadedModels } from './tracking/human-loader.js';
export { FaceTracker, DEFAULT_TRACKER_OPTIONS, type TrackerOptions, type TrackedFace, type TrackResult, type StageTimings } from './tracking/face-tracker.js';
export { OneEuroFilter, OneEuroVector, type OneEuroParams } from './tracking/one-euro.js';
export { poseFromMesh, cameraFromPose, cameraForView, viewFromCamera, EG3D_RADIUS, EG3D_FOCAL, EG3D_INTRINSICS, type HeadPose } from './tracking/head-pose.js';
export { cropFromMesh, cropToFrameTransform, frameToCropTransform, alignFace, alignFaceFloat, pasteBack, type CropFrame } from './tracking/alignment.js';
export { SelfieMatte, MATTE_SIZE, resizeMatte } from './tracking/matte.js';
export { compositeFace, type CompositeOptions } from './tracking/composite.js';
export { TrackerOverlayProcessor, drawOverlay } from './tracking/debug-overlay.js';
export { readImage, probeImage, readVideoFrames, probeVideo, writePng, InputError } from './tracking/media-io.js';
// The 3DPE editor (issue 5): trained ONNX on onnxruntime-node, prompt bank, FrameProcessor 'editor'.
export { PortraitEditor, EDITOR_ASSETS, EDITOR_SIZE, frontalCamera, frameToCHW, hwcToCHW, chwToFrame, type PortraitEditorOptions, type EditInput, type EditOutput } from './editor/portrait-editor.js';
export { PromptBank, type PromptMatch, type PromptEntry } from './editor/prompt-bank.js';
export { EditorProcessor, createEditorProcessor, type EditorProcessorOptions, type EditorTimings } from './editor/processor.js';
export { TextEncoder384, WordPieceTokenizer } from './editor/text-encoder.js';
export { EditorThread, type EditorThreadOptions, type ThreadEdit } from './editor/editor-thread.js';
export { tsWorker } from './ts-worker.js';
