/**
 * Landmark indices of the 468-point MediaPipe FaceMesh topology that the pose, alignment and
 * overlay code rely on. "Right"/"left" are the subject's: the subject's right eye is on the
 * image's left in a non-mirrored frame.
 */
export const MESH_POINTS = 468;

export const RIGHT_EYE = [33, 7, 163, 144, 145, 153, 154, 155, 133, 246, 161, 160, 159, 158, 157, 173];
export const LEFT_EYE = [263, 249, 390, 373, 374, 380, 381, 382, 362, 466, 388, 387, 386, 385, 384, 398];
export const RIGHT_EYE_OUTER = 33;
export const LEFT_EYE_OUTER = 263;
export const MOUTH_RIGHT = 61;
export const MOUTH_LEFT = 291;
export const NOSE_TIP = 1;
export const FOREHEAD = 10;
export const CHIN = 152;

/**
 * Bilaterally symmetric (right, left) pairs on the rigid part of the face (brows, eyes, nose,
 * cheeks, upper silhouette; jaw and lips left out because they move when talking). Their mean
 * left−right difference gives the face's x axis robustly.
 */
export const SYMMETRIC_PAIRS: ReadonlyArray<readonly [number, number]> = [
  [33, 263], [133, 362], [159, 386], [145, 374], [246, 466], [173, 398],
  [70, 300], [105, 334], [107, 336], [46, 276], [66, 296], [63, 293], [55, 285],
  [127, 356], [162, 389], [21, 251], [54, 284], [103, 332], [67, 297], [109, 338],
  [234, 454], [93, 323], [116, 345], [117, 346], [118, 347], [123, 352], [50, 280], [101, 330],
  [129, 358], [98, 327], [48, 278], [36, 266],
];

/**
 * Points on the rigid facial midline, top to bottom: forehead to the base of the nose.
 * The upper-face reference keeps pitch steady while the jaw moves.
 */
export const MIDLINE_UPPER = [10, 151, 9, 8];
export const MIDLINE_LOWER = [2, 164];
