# The project's image: the API + /ws server (manage.py serve), the feed (run_feed), and the
# Celery worker and beat all run from it; deploy/compose.yaml picks the command.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements/ requirements/
RUN pip install --no-cache-dir -r requirements/base.txt
COPY . .
RUN SECRET_KEY=build-only python manage.py collectstatic --noinput --verbosity 0
EXPOSE 8000
CMD ["python", "manage.py", "serve", "--bind", "0.0.0.0", "--port", "8000"]
