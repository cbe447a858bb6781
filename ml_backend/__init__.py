"""Pre-annotation server on label-studio-ml: one LabelStudioMLBase subclass dispatching to control models."""

#: What gunicorn runs (the stack, `medlabel ml serve`, docker-compose): an app factory, so importing the module
#: never builds an app (and never fails for want of credentials).
WSGI_APP = "ml_backend._wsgi:create_app()"
#: Threads per gunicorn worker (gthread): Label Studio calls /health before every prediction batch, and it
#: must answer while another request runs a long /predict.
THREADS = 4
