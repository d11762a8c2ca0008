"""Fixed texts of Brain Observatory NWB 1.0 files (values read from a real file or the writer's spec)."""

from __future__ import annotations

PIPELINE = "/processing/brain_observatory_pipeline"
HELP_URL = "http://help.brain-map.org/display/observatory/Allen+Brain+Observatory"
PLEASE_SEE = f"Please see {HELP_URL} for details"
NWB_VERSION = "NWB-1.0.5"
SESSION_DESCRIPTION = "2-photon recording of visual areas in head-fixed mouse with visual stimulus"
FOR_MORE_INFORMATION = f"For more information, please see {HELP_URL}"

HELP_TS = "General time series object"
HELP_INDEX = ("A sequence that is generated from an existing image stack. Frames can be presented in an "
              "arbitrary order. The data[] field stores frame number in reference stack")
HELP_ROI = "ROI responses over an imaging plane. Each row in data[] should correspond to the signal from one ROI"
HELP_2P = "Image stack recorded from 2-photon microscope"
HELP_IMAGE = "Storage object for time-series 2-D image data"
HELP_INTERVAL = "Stores the start and stop times for events"
HELP_FEATURES = "Features of an applied stimulus. This is useful when storing the raw stimulus is impractical"
HELP_SPATIAL = ("Stores points in space over time. The data[] array structure is "
                "[num samples][num spatial dimenstions]")  # sic, ainwb spec typo

HELP_INTERFACE = {
    "BehavioralTimeSeries": "General container for storing time series",
    "DfOverF": "Df/f over time of one or more ROIs. TimeSeries names should correspond to imaging plane names",
    "EyeTracking": "Eye-tracking data, representing direction of gaze",
    "Fluorescence": ("Fluorescence over time of one or more ROIs. TimeSeries names should correspond to "
                     "imaging plane names"),
    "ImageSegmentation": "Stores groups of pixels that define regions of interest from one or more imaging planes",
    "MotionCorrection": "Image stacks whose frames have been shifted (registered) to account for motion",
    "PupilTracking": "Eye-tracking data, representing pupil size",
}

STIMULUS_COMMENTS = (
    "The data stored here is a precursor for what was displayed. Please see "
    "http://help.brain-map.org/download/attachments/10616846/VisualCoding_VisualStimuli.pdf "
    "for instructions for how to convert this to actual stimulus data")
FLUORESCENCE_COMMENTS = (
    "'data' stores raw traces. Neuropil traces are stored in 'neuropil_traces'. Neuropil corrected trace "
    "equals (raw_trace - r * neuropil_trace). See "
    f"{HELP_URL} for information about neuropil calculation")
DEMIXED_DESCRIPTION = (
    "Demixed traces are computed by first identifying overlapping regions between all ROIs in the "
    "experiment.  Signal in overlapping regions is reassigned to individual ROIs via linear regression. "
    "Site is imaging_plane_1")
MOTION_LINKS = "'original' is '/acquisition/timeseries/2p_image_series'"

# template descriptions: the first two are real, the others follow their pattern (guess)
TEMPLATE_DESCRIPTION = {
    "natural_movie_one": "Natural movie one.",
    "natural_movie_two": "Natural movie two.",
    "natural_movie_three": "Natural movie three.",
    "natural_scenes": "Frames presented as part of the natural scenes stimulus.",
    "locally_sparse_noise": "Frames presented as part of the locally sparse noise stimulus.",
    "locally_sparse_noise_4deg": "Frames presented as part of the locally sparse noise 4deg stimulus.",
    "locally_sparse_noise_8deg": "Frames presented as part of the locally sparse noise 8deg stimulus.",
}
